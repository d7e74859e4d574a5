"""The engine: planner, backends and the one sequence/sample matcher they share."""
