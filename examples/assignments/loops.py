"""Homework 1: loops. A learner's submission, as handed in with `submissions submit --file`."""


def greet_all(names: list[str]) -> list[str]:
    """Return a greeting for every name, in order."""
    return [f"Hello, {name}!" for name in names]


def countdown(n: int) -> list[int]:
    """n, n-1, ..., 1 with a while loop."""
    out = []
    while n > 0:
        out.append(n)
        n -= 1
    return out


if __name__ == "__main__":
    print(greet_all(["Ada", "Grace"]))
    print(countdown(3))
