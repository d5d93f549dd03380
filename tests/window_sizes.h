/*
 * The metadata window of each size class's slab (src/objects/slab.h), as
 * fixed numbers for the tests to compare with, not recomputed from the
 * layout they check: per class, its size, its objects per slab, the bytes
 * of its free stack below the header, and the whole window's bytes with
 * narrow (2-byte) and wide (8-byte) entries.  A change of the classes or
 * of the window's layout changes these on purpose.
 */
#ifndef TEST_WINDOW_SIZES_H
#define TEST_WINDOW_SIZES_H

#include <stdint.h>

#include "objects/slab.h"

static const struct {
	uint16_t size, nobj, below, narrow, wide;
} window_sizes[AT_NR_CLASSES] = {
	{0, 0, 0, 0, 0}, /* class 0: none */
	{   16, 4096, 8192, 16450, 41032},
	{   32, 2048, 4096,  8258, 20552},
	{   48, 1365, 2730,  5526, 13722},
	{   64, 1024, 2048,  4162, 10312},
	{   80,  819, 1638,  3342,  8262},
	{   96,  682, 1364,  2794,  6892},
	{  112,  585, 1170,  2406,  5922},
	{  128,  512, 1024,  2114,  5192},
	{  160,  409,  818,  1702,  4162},
	{  192,  341,  682,  1430,  3482},
	{  224,  292,  584,  1234,  2992},
	{  256,  256,  512,  1090,  2632},
	{  320,  204,  408,   882,  2112},
	{  384,  170,  340,   746,  1772},
	{  448,  146,  292,   650,  1532},
	{  512,  128,  256,   578,  1352},
	{  640,  102,  204,   474,  1092},
	{  768,   85,  170,   406,   922},
	{  896,   73,  146,   358,   802},
	{ 1024,   64,  128,   322,   712},
	{ 1088,   60,  120,   306,   672},
	{ 1280,   51,  102,   270,   582},
	{ 1536,   42,   84,   234,   492},
	{ 1792,   36,   72,   210,   432},
	{ 2048,   32,   64,   194,   392},
	{ 2560,   25,   50,   166,   322},
	{ 3072,   21,   42,   150,   282},
	{ 3584,   18,   36,   138,   252},
	{ 4096,   16,   32,   130,   232},
	{ 4368,   15,   30,   126,   222},
	{ 4672,   14,   28,   122,   212},
	{ 5040,   13,   26,   118,   202},
	{ 5456,   12,   24,   114,   192},
	{ 5952,   11,   22,   110,   182},
	{ 6544,   10,   20,   106,   172},
	{ 7280,    9,   18,   102,   162},
	{ 8192,    8,   16,    98,   152},
	{10240,    6,   12,    90,   132},
	{12288,    5,   10,    86,   122},
	{14336,    4,    8,    82,   112},
	{16384,    4,    8,    82,   112},
};

#endif
