"""Getting data into leanlearn: readers and shipped datasets."""
