/// A view of one linear layer's weights (`[out, in]`) and bias inside ``ModelWeights``.
struct Linear: @unchecked Sendable {
    let weight: UnsafePointer<Float>
    let bias: UnsafePointer<Float>
    let inputs: Int
    let outputs: Int

    init(_ w: ModelWeights, _ name: String) {
        let shape = w.shape("\(name).weight")
        weight = UnsafePointer(w.pointer("\(name).weight"))
        bias = UnsafePointer(w.pointer("\(name).bias"))
        outputs = shape[0]
        inputs = shape[1]
    }

    /// `out[r] = x[r] · Wᵀ + b` for `rows` rows (row strides `ldx`, `ldo`; default: dense).
    func apply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int? = nil, into out: UnsafeMutablePointer<Float>, ldo: Int? = nil
    ) {
        guard rows > 0 else { return }
        let ldo = ldo ?? outputs
        VectorMath.broadcastRows(bias, into: out, rows: rows, n: outputs, ld: ldo)
        BLAS.gemm(
            .none, .transposed, m: rows, n: outputs, k: inputs, a: x, lda: ldx ?? inputs, b: weight, ldb: inputs,
            beta: 1, c: out, ldc: ldo)
    }

    /// `out[r] = x[r] · Wᵀ` without the bias, for callers that fold the bias into the next elementwise pass.
    func product(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, ldo: Int? = nil) {
        guard rows > 0 else { return }
        BLAS.gemm(
            .none, .transposed, m: rows, n: outputs, k: inputs, a: x, lda: inputs, b: weight, ldb: inputs,
            c: out, ldc: ldo ?? outputs)
    }

    /// Multiply-adds of ``apply`` over `rows` rows, as FLOPs (2 per multiply-add).
    func flops(rows: Int) -> Double { 2 * Double(rows) * Double(inputs) * Double(outputs) }
}

/// Weights of one stream inside one block.
struct StreamBlockWeights: @unchecked Sendable {
    /// `[6, dim]`: per-block offsets added to the stream's shared adaLN modulation.
    let modulation: UnsafePointer<Float>
    let qkv: Linear
    let qNorm: UnsafePointer<Float>
    let kNorm: UnsafePointer<Float>
    let out: Linear
    let fc1: Linear
    let fc2: Linear

    init(_ w: ModelWeights, block i: Int, stream s: String) {
        let p = "blocks.\(i).\(s)"
        modulation = UnsafePointer(w.pointer("\(p).modulation"))
        qkv = Linear(w, "\(p).qkv")
        qNorm = UnsafePointer(w.pointer("\(p).q_norm"))
        kNorm = UnsafePointer(w.pointer("\(p).k_norm"))
        out = Linear(w, "\(p).out")
        fc1 = Linear(w, "\(p).fc1")
        fc2 = Linear(w, "\(p).fc2")
    }
}

/// Weights of one stream outside the blocks: patch embedding, shared modulation, final layer.
struct StreamWeights: @unchecked Sendable {
    let embed: Linear
    let modulation: Linear
    let finalModulation: Linear
    let finalProj: Linear

    init(_ w: ModelWeights, stream s: String) {
        embed = Linear(w, "\(s).embed")
        modulation = Linear(w, "\(s).modulation")
        finalModulation = Linear(w, "\(s).final.modulation")
        finalProj = Linear(w, "\(s).final.proj")
    }
}
