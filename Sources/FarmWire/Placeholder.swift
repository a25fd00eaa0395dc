// FarmWire
