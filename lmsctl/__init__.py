"""lmsctl: the command line of the LMS toolkit. Thin: parse, call one service, render."""
