// FarmTesting
