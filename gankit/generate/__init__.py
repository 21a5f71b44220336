"""Using a trained image run: load its generator, draw images, grids and arrays."""
