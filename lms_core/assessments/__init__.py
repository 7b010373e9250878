"""Questions without a database: their shapes, grading, shuffling and question-bank formats.

Modules: ``questions`` (``QuestionData``, ``validate_question``), ``grading`` (``grade``,
``make_grader``), ``shuffle`` (``question_order``, ``option_order``), ``gift``, ``aiken``,
``question_table`` (our CSV/XLSX) and ``banks`` (``detect_format``, ``read_questions``,
``write_questions``). Import the module you need: nothing is imported here, so the CLI can load
one without the others (openpyxl only comes with XLSX).
"""
