"""dfcnn."""
