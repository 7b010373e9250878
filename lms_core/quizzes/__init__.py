"""Quizzes: settings, questions, learners' attempts, scoring, final scores, regrading."""
