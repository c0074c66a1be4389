DROP TABLE email_challenges;
