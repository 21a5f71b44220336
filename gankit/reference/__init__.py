"""Reference implementations gankit is measured against, by tests and benchmarks alike: the tutorial's GAN and
loop as written (`tutorial`), and plain, slow metrics (`metrics`). Baselines, not used by gankit itself."""
