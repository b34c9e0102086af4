"""The public website (issue 12): what the program is and is not, how to get it, who
comes, today's hours and service area from the program file in force, an "is my address
covered?" check, consent and follow-up, privacy, feedback, the report archive and this
year's dashboard. No sign-in; English and Spanish; phone first; its own layout."""
