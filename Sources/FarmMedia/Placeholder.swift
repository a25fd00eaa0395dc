// FarmMedia
