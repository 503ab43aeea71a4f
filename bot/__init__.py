"""tiepdan — citizen-feedback chatbot for Vietnamese communes and wards."""
