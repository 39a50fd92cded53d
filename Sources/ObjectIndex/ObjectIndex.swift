// ObjectIndex
