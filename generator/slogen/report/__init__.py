"""What people and machines read: JSON documents, tables, step summaries, number and text formatting."""
