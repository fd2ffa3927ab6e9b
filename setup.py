"""Build hook: plain setuptools for now (the codec issue adds the optional mypyc build)."""

from setuptools import setup

setup()
