/*
 * paths — where punguza finds its assets: $PUNGUZA_ASSETS, else next to
 * the binary in the source tree (build/punguza -> assets/), else the
 * installed copy (PREFIX/bin/punguza -> PREFIX/share/punguza/).
 */
#ifndef PUNGUZA_PATHS_H
#define PUNGUZA_PATHS_H

#include <stddef.h>

/* Writes the assets directory into buf; returns 0, or -1 when none of the
 * candidates exists (buf then holds the last one tried). */
int paths_assets(char *buf, size_t cap);

/* paths_assets() + "/" + name; -1 when the assets are not found. */
int paths_asset(const char *name, char *buf, size_t cap);

#endif
