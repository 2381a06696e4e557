import sys

from peertrial.report import build

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m peertrial.report OUTPUT_DIR")
    print(build(sys.argv[1]))
