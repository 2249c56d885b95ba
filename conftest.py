pytest_plugins = ["coachline.testing"]
