// Tests for this component are added alongside its implementation.
