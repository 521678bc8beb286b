"""Images: decoding (folder per class, CSV of paths, digits), ImagePreprocessor, augmentation."""
