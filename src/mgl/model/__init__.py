"""The product's model: the classifier (:mod:`~mgl.model.classifier`), its saved format
(:mod:`~mgl.model.saving`) and card (:mod:`~mgl.model.card`), calibration, explanations
(:mod:`~mgl.model.neighbours`, :mod:`~mgl.model.graph_map`), training checkpoints and loading a
saved model for prediction (:mod:`~mgl.model.prediction_model`)."""
