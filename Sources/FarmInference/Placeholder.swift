// FarmInference
