"""Data augmentation with a GAN: labelled synthetic sets from a conditional run (`gankit augment`), the experiment
that measures whether they help a classifier (`gankit utility`), and the classic augmentation they must beat."""
