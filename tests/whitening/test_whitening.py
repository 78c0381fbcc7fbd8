"""whitening.Whitening: spec §8.9 vector, invariances, streaming fit, errors, persistence, module forms."""

import numpy as np
import pytest
import torch

from whitening import Whitening
from whitening.sts import pair_cosines

A = np.array([[1, 2, 0.5], [3, 5, 1], [4, 4, 2], [0, 1, 3]], dtype=np.float64)
B = np.array([[2, 2, 1], [1, 4, 0], [5, 3, 2.5], [1, 0, 2]], dtype=np.float64)


def reference_whiten(x: np.ndarray, fit_on: np.ndarray, k: int, biased: bool = False) -> np.ndarray:
    """Spec §6.1 written independently with numpy: np.cov + np.linalg.svd, y = (x - mu) U diag(1/sqrt(s))[:, :k]."""
    mu = fit_on.mean(axis=0)
    cov = np.cov(fit_on.T, bias=biased)
    u, s, _ = np.linalg.svd(cov)
    return (x - mu) @ (u / np.sqrt(s))[:, :k]


def correlated(n: int, dim: int, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) + offset


# --------------------------------------------------------------------------------------------- spec §8.9
def test_spec_vector_statistics():
    w = Whitening().fit(np.vstack([A, B]))
    np.testing.assert_allclose(w.mean.numpy(), [2.125, 2.625, 1.5], atol=1e-12)
    np.testing.assert_allclose(w.singular_values.numpy(), [4.554114, 1.93899, 0.399753], atol=1e-6)
    y = w.transform(np.vstack([A, B]))
    np.testing.assert_allclose(np.cov(y.T), np.eye(3), atol=1e-10)


@pytest.mark.parametrize("k, expected", [
    (0, [0.945611, 0.942908, 0.972003, 0.848528]),
    (3, [0.833339, 0.563345, 0.710842, 0.135544]),
    (2, [0.787528, 0.625115, 0.865848, 0.978421]),
])
def test_spec_vector_cosines(k, expected):
    w = Whitening().fit(np.vstack([A, B]))
    np.testing.assert_allclose(pair_cosines(w.transform(A, k), w.transform(B, k)), expected, atol=1e-6)


def test_normalize_option_gives_unit_rows_and_cosines():
    w = Whitening(n_components=2).fit(np.vstack([A, B]))
    ya, yb = w.transform(A, normalize=True), w.transform(B, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(ya, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose((ya * yb).sum(1), [0.787528, 0.625115, 0.865848, 0.978421], atol=1e-6)


# ------------------------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("k", [16, 8, 3])
def test_matches_independent_reference_up_to_sign_and_scaling(k):
    """Sign flips of U and N vs N-1 covariance scaling do not change cosines (spec §6.1)."""
    x = correlated(200, 16, seed=1)
    q = correlated(20, 16, seed=2)
    ours = Whitening().fit(x).transform(q, n_components=k)
    for biased in (False, True):
        ref = reference_whiten(q, x, k, biased=biased)
        np.testing.assert_allclose(pair_cosines(ours[:10], ours[10:]), pair_cosines(ref[:10], ref[10:]), atol=1e-9)
        scale = np.sqrt(len(x) / (len(x) - 1)) if biased else 1.0
        np.testing.assert_allclose(np.abs(ours), np.abs(ref) / scale, rtol=1e-8, atol=1e-10)


def test_input_sign_flips_and_invertible_maps_do_not_change_full_whitening_cosines():
    x, q = correlated(300, 12, seed=3), correlated(20, 12, seed=4)
    base = Whitening().fit(x).transform(q)
    flips = np.where(np.random.default_rng(5).random(12) < 0.5, -1.0, 1.0)
    mix = np.random.default_rng(6).normal(size=(12, 12))
    for m in (np.diag(flips), mix):
        moved = Whitening().fit(x @ m).transform(q @ m)
        np.testing.assert_allclose(pair_cosines(moved[:10], moved[10:]), pair_cosines(base[:10], base[10:]),
                                   atol=1e-8)


def test_kernel_signs_are_deterministic():
    x = correlated(100, 8, seed=7)
    k1 = Whitening().fit(x).kernel
    k2 = Whitening().fit(x[::-1].copy()).kernel
    torch.testing.assert_close(k1, k2, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------------------- streaming fit
@pytest.mark.parametrize("chunks", [[1000], [1, 2, 997], [333, 0, 333, 334], [7] * 142 + [6]])
def test_partial_fit_equals_fit(chunks):
    x = correlated(1000, 24, seed=8, offset=1e3)  # large offset: naive sum-of-squares would lose digits
    whole = Whitening().fit(x)
    streamed = Whitening()
    start = 0
    for size in chunks:
        streamed.partial_fit(x[start:start + size])
        start += size
    assert streamed.n_samples == 1000
    cov_ref = torch.as_tensor(np.cov(x.T))
    for w in (whole, streamed):
        rel = (w.covariance() - cov_ref).norm() / cov_ref.norm()
        assert rel <= 1e-8
        np.testing.assert_allclose(w._mean64.numpy(), x.mean(0), rtol=1e-12)
    rel_kernel = (streamed.transform(x[:50]) - whole.transform(x[:50]))
    assert np.linalg.norm(rel_kernel) / np.linalg.norm(whole.transform(x[:50])) <= 1e-8


def test_fit_accepts_an_iterable_of_chunks_and_float32_tensors():
    x = correlated(400, 10, seed=9).astype(np.float32)
    gen = (torch.from_numpy(x[i:i + 64]) for i in range(0, 400, 64))
    a, b = Whitening().fit(gen), Whitening().fit(x)
    torch.testing.assert_close(a.covariance(), b.covariance(), rtol=1e-10, atol=1e-12)
    out = a.transform(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (400, 10)


def test_fit_accepts_nested_lists():
    w = Whitening().fit(np.vstack([A, B]).tolist())
    np.testing.assert_allclose(w.mean.numpy(), [2.125, 2.625, 1.5])


def test_one_sentence_transformed_with_a_fitted_whitening():
    x = correlated(300, 16, seed=10)
    w = Whitening(n_components=8).fit(x)
    one = w.transform(x[5])
    assert one.shape == (8,)
    np.testing.assert_allclose(one, w.transform(x)[5], rtol=1e-12)
    torch.testing.assert_close(w.transform(torch.tensor(x[5])), torch.tensor(w.transform(x)[5]))


def test_transform_lazily_finalizes_after_partial_fit():
    x = correlated(100, 5, seed=11)
    w = Whitening().partial_fit(x[:60]).partial_fit(x[60:])
    np.testing.assert_allclose(np.cov(w.transform(x).T), np.eye(5), atol=1e-9)


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("n", [2, 10, 16])
def test_n_not_above_dim_raises_clear_error(n):
    with pytest.raises(ValueError, match=r"N=\d+ <= dim.*regularization"):
        Whitening().fit(correlated(n, 16, seed=12))


def test_regularization_allows_small_n():
    x = correlated(10, 16, seed=13)
    w = Whitening(regularization=1e-3).fit(x)
    y = w.transform(x)
    assert np.isfinite(y).all()
    # documented ridge: kernel whitens Sigma + lambda * tr(Sigma)/dim * I
    cov = np.cov(x.T)
    ridge = cov + 1e-3 * np.trace(cov) / 16 * np.eye(16)
    kernel = w.kernel.numpy()
    np.testing.assert_allclose(kernel.T @ ridge @ kernel, np.eye(16), atol=1e-8)


def test_singular_covariance_limits_components_to_the_rank():
    x = correlated(100, 4, seed=14)
    x = np.hstack([x, x[:, :1]]).astype(np.float32)  # a duplicated dimension: rank 4 of 5
    w = Whitening().fit(x)
    assert w.rank == 4
    with pytest.raises(ValueError, match="rank 4 < n_components=5"):
        w.transform(x)
    np.testing.assert_allclose(np.cov(w.transform(x, n_components=4).T.astype(np.float64)), np.eye(4), atol=1e-5)
    assert np.isfinite(Whitening(regularization=1e-3).fit(x).transform(x)).all()


def test_layernorm_outputs_are_rank_deficient():
    """Mean of LayerNorm outputs (gamma 1, beta 0) sums to 0: the last eigenvalue is numerically 0."""
    h = torch.nn.functional.layer_norm(torch.randn(400, 7, 16), (16,)).mean(1)
    assert Whitening().fit(h).rank == 15


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]), "NaN"),
    (np.ones(3), "2-D"),
    (np.ones((1, 3)), "at least 2"),
])
def test_bad_fit_input(bad, match):
    with pytest.raises(ValueError, match=match):
        Whitening().fit(bad)


def test_other_errors():
    w = Whitening()
    with pytest.raises(ValueError, match="not fitted"):
        w.transform(A)
    with pytest.raises(ValueError, match="regularization"):
        Whitening(regularization=-1.0)
    w.partial_fit(correlated(50, 3))
    with pytest.raises(ValueError, match="dimension 4"):
        w.partial_fit(np.ones((5, 4)))
    with pytest.raises(ValueError, match="exceeds"):
        w.transform(A, n_components=4)
    with pytest.raises(ValueError, match="dimension 3"):
        w.transform(np.ones((2, 5)))


# ------------------------------------------------------------------------------------------ persistence
def test_save_load_round_trip_and_resume(tmp_path):
    x = correlated(500, 12, seed=15)
    w = Whitening(n_components=6).fit(x[:300])
    w.save(tmp_path / "w")
    loaded = Whitening.load(tmp_path / "w")
    assert (loaded.n_components, loaded.n_samples, loaded.dim) == (6, 300, 12)
    np.testing.assert_array_equal(loaded.transform(x), w.transform(x))
    loaded.partial_fit(x[300:])
    torch.testing.assert_close(loaded.covariance(), Whitening().fit(x).covariance(), rtol=1e-10, atol=1e-12)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        Whitening.load(tmp_path)
    Whitening().fit(correlated(50, 3)).save(tmp_path)
    cfg = tmp_path / "whitening_config.json"
    cfg.write_text(cfg.read_text().replace('"dim": 3', '"dim": 4'))
    with pytest.raises(ValueError, match="shape"):
        Whitening.load(tmp_path)
    with pytest.raises(ValueError, match="unfitted"):
        Whitening().save(tmp_path / "x")


# ---------------------------------------------------------------------------------------- module forms
def test_torch_module_after_an_encoder():
    torch.manual_seed(0)
    encoder = torch.nn.Linear(6, 8)
    inputs = torch.randn(200, 6)
    with torch.no_grad():
        w = Whitening(n_components=4).fit(torch.cat([encoder(inputs), torch.randn(200, 8)]))
        pipeline = torch.nn.Sequential(encoder, w)
        out = pipeline(inputs[:5])
        torch.testing.assert_close(out, w.transform(encoder(inputs[:5])))
    assert out.shape == (5, 4)
    features = w({"sentence_embedding": encoder(inputs[:2]).detach()})
    assert features["sentence_embedding"].shape == (2, 4)


@pytest.fixture(scope="module")
def tiny_st_folder(tmp_path_factory):
    """A tiny random BERT saved as an HF folder, with the real MiniLM tokenizer."""
    from _whitening_helpers import make_tiny_minilm_layout

    return make_tiny_minilm_layout(tmp_path_factory.mktemp("tiny_bert"))


def test_sentence_transformers_module(tiny_st_folder, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # 5.x, our declared floor
        from sentence_transformers.models import Pooling, Transformer

    from conftest import DATA
    from whitening.sts import read_sts

    split = read_sts(DATA / "sts_en" / "stsb_dev.tsv").head(60)
    sentences = split.sentences1 + split.sentences2
    transformer = Transformer(str(tiny_st_folder), max_seq_length=64)
    pooling = Pooling(32, "mean")  # the tiny config's hidden size
    plain = st.SentenceTransformer(modules=[transformer, pooling], device="cpu")
    raw = plain.encode(sentences, convert_to_numpy=True)
    w = Whitening(n_components=16).fit(raw)
    model = st.SentenceTransformer(modules=[transformer, pooling, w], device="cpu")
    ours = model.encode(sentences[:10], convert_to_numpy=True)
    np.testing.assert_allclose(ours, w.transform(raw[:10]), rtol=1e-4, atol=1e-5)
    model.save(str(tmp_path / "st"))
    reloaded = st.SentenceTransformer(str(tmp_path / "st"), device="cpu", trust_remote_code=True)
    np.testing.assert_allclose(reloaded.encode(sentences[:10], convert_to_numpy=True), ours, rtol=1e-5, atol=1e-6)
    dimension = getattr(reloaded, "get_embedding_dimension", None) or reloaded.get_sentence_embedding_dimension
    assert dimension() == 16
