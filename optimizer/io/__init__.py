"""Scenario files in (and plan files out): the only package that touches the file system."""

from optimizer.io.problems import Problem, ScenarioError
from optimizer.io.scenario_reader import load_scenario

__all__ = ["Problem", "ScenarioError", "load_scenario"]
