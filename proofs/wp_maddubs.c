/*
 * wp_maddubs.c - what Frama-C/WP reads for the lane model (maddubs_model.h). Not built.
 */
#include "maddubs_model.h"
