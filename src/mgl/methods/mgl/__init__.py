"""MGL, the paper's method: episodes (:mod:`~mgl.methods.mgl.episodes`), the meta graph and its GCN
(:mod:`~mgl.methods.mgl.meta_graph`), episodic training (:mod:`~mgl.methods.mgl.training`),
prediction as query nodes (:mod:`~mgl.methods.mgl.queries`), the fitted head
(:mod:`~mgl.methods.mgl.head`) and the method class (:mod:`~mgl.methods.mgl.method`)."""
