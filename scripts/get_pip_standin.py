"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test runs ``get_pip_<version>.py`` (via its quiet_pip wrapper) inside every virtual
environment it creates.  The upstream script is fetched from a host that is not reachable on our
CI machines, so the Makefile installs this file under the name ansible-test looks for.  It does
what the real script does, with what the interpreter already ships: ``ensurepip`` brings pip,
then pip installs the requested packages from the configured package index.
"""

import subprocess
import sys

# get-pip knows these flags; pip install does not.
_GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY_FLAGS]
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main()
