"""The graph layer: one topology API over layer calls, and the Functional / Sequential
configs Keras 3 writes for a graph."""
