/// This build's version, the one place it is written (`reelfarm --version`).
let reelfarmVersion = "0.6.0"
