"""The project's own reliability checks: hostile inputs, fuzzing, injected faults and the template.

Each module measures one part and returns a summary with the line ``make reliability-report`` prints.
"""
