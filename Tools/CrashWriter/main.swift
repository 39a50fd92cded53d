print("crashwriter")
