"""Training an image GAN: the typed config and presets (`config`), the loop (`loop`) and its one step (`step`),
what the step is made of (`losses`, `regularizers`, `diffaugment`, `ema`), what hangs off the loop (`runlog`,
`health`, `periodic_eval`, `distributed`, `self_condition`'s clustering). `gankit.train` is the public entry."""
