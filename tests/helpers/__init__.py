"""Test helpers shared by the test modules and the benchmarks: builders of wheels and of tool projects."""
