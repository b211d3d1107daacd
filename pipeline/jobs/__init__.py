"""Where the stages meet the state: build, send, the weekly job (decide, then act), the calendar
and the scheduler loop, the run report."""
