"""Text encoders: any Hugging Face encoder, the embedded multilingual-e5-small default, the embedding cache."""
