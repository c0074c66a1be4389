DROP TABLE account_subjects;
