"""The custom NLU components: script normalisation and numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.normaliser import normalise
from bot.nlu.numbers import parse_amount, parse_term_months

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("網銀轉賬限額是多少", "网银转账限额是多少"),
        ("信用卡年費多少？", "信用卡年费多少?"),
        ("ＡＢＣ１２３", "ABC123"),
        ("我嘅提款卡唔見咗", "我的提款卡不见了"),
        ("你好", "你好"),
        ("", ""),
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize(
    "text", ["房貸利率", "😀😀 我的卡丟了", "ﾊﾝｶｸ ＡＢ", "a" * 50, "張咭喺邊度俾人碌咗 唔該晒 點算好"]
)
def test_normalise_keeps_length(text):
    assert len(normalise(text)) == len(text)


def test_a_traditional_training_example_teaches_no_synonym_into_traditional(tmp_path):
    """[五萬](amount) in a training example: once normalised, its value is 五万 too. Rasa's synonym
    mapper learned 五万 → 五萬 from the difference (a warning at every training), so a customer's 五万
    came out as the Traditional value. A value written apart from the words is the writer's and stays."""
    from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    from bot.nlu.normaliser import ChineseNormaliser

    data = RasaYAMLReader().reads(
        "version: '3.1'\nnlu:\n- intent: ask_interest_rate\n  examples: |\n"
        '    - 幫我存[五萬](amount)[一年](term)[定期]{"entity": "product_type", "value": "time_deposit"}\n'
    )
    ChineseNormaliser({}).process_training_data(data)
    example = data.training_examples[0]
    assert example.get("text") == "帮我存五万一年定期"
    assert [e["value"] for e in example.get("entities")] == ["五万", "一年", "time_deposit"]
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    mapper = EntitySynonymMapper.create({}, LocalModelStorage(tmp_path), Resource("synonyms"), None)
    mapper.train(data)  # learns from the normalised examples, as in training
    entities = [{"entity": "amount", "value": "五万", "start": 3, "end": 5}]
    mapper.replace_synonyms(entities)
    assert entities[0]["value"] == "五万"


@pytest.mark.parametrize(
    "text,value",
    [
        ("二十万", 200000),
        ("5万元", 50000),
        ("1.5万", 15000),
        ("三千块", 3000),
        ("100,000", 100000),
        ("十万左右", 100000),
        ("两万", 20000),
        ("差不多8千", 8000),
        ("很多", None),
    ],
)
def test_amounts(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize(
    "text,months",
    [
        ("三年", 36),
        ("半年", 6),
        ("一年半", 18),
        ("18个月", 18),
        ("90天", 3),
        ("两年", 24),
        ("五年期", 60),
        ("好久", None),
    ],
)
def test_terms(text, months):
    assert parse_term_months(text) == months


def test_a_product_name_is_one_entity_named_as_written():
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.numbers import NumberNormaliser

    message = Message(
        data={
            "text": "手机银行转账限额",
            "entities": [
                {"entity": "product", "start": 0, "end": 4, "value": "e_banking"},
                {"entity": "product_type", "start": 0, "end": 4, "value": "e_banking"},
                {"entity": "amount", "start": 5, "end": 7, "value": "二十万"},
            ],
        }
    )
    NumberNormaliser().process([message])
    entities = message.get("entities")
    assert [(e["entity"], e["value"]) for e in entities] == [("product", "手机银行"), ("amount", 200000)]


def test_e5_vectors_are_reused_and_close_meanings_are_close():
    import numpy as np

    from bot.nlu import e5_featurizer
    from bot.nlu.e5_featurizer import E5SentenceFeaturizer

    featurizer = E5SentenceFeaturizer({**E5SentenceFeaturizer.get_default_config()}, "e5")
    texts = ["密码忘了怎么办", "登录密码想不起来了", "今天天气怎么样", "   "]
    first = featurizer._vectors(texts)
    assert ("query", "密码忘了怎么办") in e5_featurizer._CACHE
    again = featurizer._vectors(texts)  # from the cache: identical
    assert np.array_equal(first, again)
    assert not first[3].any()  # blank text: zero vector, no encoder error
    fresh = np.asarray(featurizer._encode(["密码忘了怎么办"]), dtype=np.float32).reshape(1, -1)
    assert np.allclose(first[0], e5_featurizer.rounded(fresh)[0], atol=1e-6)
    assert float(first[0] @ first[1]) > float(first[0] @ first[2])


def test_vectors_are_stored_in_eight_bits_and_rounding_again_changes_nothing():
    import numpy as np

    from bot.nlu.e5_featurizer import codes, rounded

    vectors = np.random.default_rng(3).normal(scale=0.05, size=(50, 384)).astype(np.float32)
    vectors[7] = 0.0
    once = rounded(vectors)
    ints, scales = codes(vectors)
    assert ints.dtype == np.int8 and np.abs(ints).max() == 127
    # at most half a step from the encoder's numbers, and a stored vector reads back as itself
    assert (np.abs(once - vectors) <= scales[:, None] / 2 + 1e-7).all()
    assert np.array_equal(codes(once)[0], ints)
    assert np.allclose(rounded(once), once, rtol=0, atol=1e-7)
    assert not once[7].any()
    # what the classifier sees hardly moves: cosine to the encoder's vector above 0.999
    live = np.delete(np.arange(50), 7)
    cos = (
        (once[live] * vectors[live]).sum(1) / np.linalg.norm(once[live], axis=1) / np.linalg.norm(vectors[live], axis=1)
    )
    assert cos.min() > 0.999


def test_the_shipped_vectors_are_the_encoders_and_cover_the_training_data(tmp_path, monkeypatch):
    """A fresh clone trains from bot/resources/e5/ instead of encoding 14 k sentences: the file must hold what
    the encoder gives for today's training sentences (else `make e5-vectors`), read without this machine's cache."""
    import numpy as np

    from bot.nlu import e5_featurizer
    from bot.nlu.e5_featurizer import E5SentenceFeaturizer

    with np.load(e5_featurizer.SHIPPED / "query-vectors.npz", allow_pickle=False) as stored:
        assert str(stored["encoder"]) == e5_featurizer.encoder_name()
        texts, ints, scales = stored["texts"].tolist(), stored["codes"], stored["scales"]
    training = e5_featurizer.training_texts(str(ROOT / "config.yml"), str(ROOT / "domain.yml"), str(ROOT / "data"))
    missing = set(training) - set(texts)
    assert len(missing) <= 0.05 * len(
        training
    ), f"{len(missing)} training sentences have no shipped vector: make e5-vectors"

    sample = texts[:: max(1, len(texts) // 12)]
    monkeypatch.setattr(e5_featurizer, "DISK_CACHE", tmp_path)
    monkeypatch.setattr(e5_featurizer, "_CACHE", e5_featurizer.OrderedDict())
    monkeypatch.setattr(e5_featurizer, "_READ", {})
    e5_featurizer._load_disk_cache("query")
    assert len(e5_featurizer._CACHE) == len(texts)
    read = np.stack([e5_featurizer._CACHE[("query", t)] for t in sample])
    e5_featurizer._CACHE.clear()
    featurizer = E5SentenceFeaturizer({**E5SentenceFeaturizer.get_default_config()}, "e5")
    encoded = featurizer._vectors(sample)
    rows = [texts.index(t) for t in sample]
    assert np.array_equal(read, ints[rows].astype(np.float32) * scales[rows, None])
    # one 8-bit step at most apart (the encoder's threads may round a last bit differently)
    assert (np.abs(read - encoded) <= scales[rows, None] * 1.01).all()


def _patterns(name):
    import re

    import yaml

    data = yaml.safe_load((ROOT / "data/nlu/regexes.yml").read_text(encoding="utf-8"))
    (item,) = [i for i in data["nlu"] if i.get("regex") == name]
    return [re.compile(line[2:]) for line in item["examples"].splitlines() if line.startswith("- ")]


@pytest.mark.parametrize(
    "text,found",
    [
        ("存5000元一年多少利息", "5000元"),
        ("我有二十万想理财", "二十万"),
        ("卡号6228****4410丢了", None),
        ("尾号**12的卡被扣了钱", None),
        ("手机138****2201收不到验证码", None),
        ("623###5531这张卡", None),
    ],
)
def test_masked_digits_are_not_amounts(text, found):
    matches = [m.group(0) for p in _patterns("amount") for m in p.finditer(text)]
    assert (found in matches) if found else not matches


@pytest.mark.parametrize(
    "text,refers",
    [
        ("你们银行的网银怎么登录不了", True),
        ("贵行信用卡年费多少", True),
        ("云澜app转账限额", True),
        ("在你行办的卡被冻结了", True),
        ("工行的网银怎么登录不了", False),
        ("支付宝借呗额度怎么提高", False),
        ("今天天气怎么样", False),
        ("", False),
    ],
)
def test_bank_reference_feature_marks_questions_to_our_bank(text, refers):
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.bank_reference import BankReferenceFeaturizer

    featurizer = BankReferenceFeaturizer(BankReferenceFeaturizer.get_default_config(), "refs")
    message = Message(data={TEXT: text})
    featurizer.process([message])
    _, sentence = message.get_dense_features(TEXT)
    assert sentence.features.shape == (1, 1)
    assert sentence.features[0, 0] == (1.0 if refers else 0.0)


def test_bank_references_come_from_the_generated_file(tmp_path):
    from bot.nlu.bank_reference import BankReferenceFeaturizer

    words = (ROOT / "bot/resources/bank_references.txt").read_text(encoding="utf-8").split()
    assert "你们" in words and "贵行" in words and len(words) >= 6
    custom = tmp_path / "refs.txt"
    custom.write_text("本店\n", encoding="utf-8")
    featurizer = BankReferenceFeaturizer({**BankReferenceFeaturizer.get_default_config(), "path": str(custom)}, "refs")
    assert featurizer.refers_to_bank("本店几点开门") and not featurizer.refers_to_bank("你们几点开门")
    with pytest.raises(FileNotFoundError):
        BankReferenceFeaturizer(
            {**BankReferenceFeaturizer.get_default_config(), "path": str(tmp_path / "none.txt")}, "refs"
        )


def test_gated_bank_reference_repeats_the_sentence_vector_only_when_the_bank_is_addressed():
    import numpy as np
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.bank_reference import BankReferenceFeaturizer

    featurizer = BankReferenceFeaturizer({**BankReferenceFeaturizer.get_default_config(), "gate_dense": True}, "refs")
    vector = np.array([[0.5, -1.0]], dtype=np.float32)
    rows = {}
    for text in ("你们的网银怎么登录", "工行的网银怎么登录"):
        message = Message(data={TEXT: text})
        message.add_features(Features(vector, FEATURE_TYPE_SENTENCE, TEXT, "e5"))
        featurizer.process([message])
        _, sentence = message.get_dense_features(TEXT, ["refs"])
        rows[text] = sentence.features.reshape(-1).tolist()
    assert rows["你们的网银怎么登录"] == [1.0, 0.5, -1.0]
    assert rows["工行的网银怎么登录"] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="dense featurizer"):
        featurizer.process([Message(data={TEXT: "你们好"})])


def test_a_second_reference_list_marks_other_institutions_and_gates_only_the_features_it_names():
    """config.yml's other_institution instance: the hand-written list (comments skipped) and a gate
    over e5 alone, not over the first instance's output that sits before it."""
    import numpy as np
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.bank_reference import BankReferenceFeaturizer, read_references

    path = "bot/resources/other_institutions.txt"
    words = read_references(path)
    assert "建行" in words and "支付宝" in words and not any(w.startswith("#") for w in words)
    ours = BankReferenceFeaturizer({**BankReferenceFeaturizer.get_default_config(), "gate_dense": True}, "ours")
    config = {**BankReferenceFeaturizer.get_default_config(), "path": path, "gate_dense": True}
    others = BankReferenceFeaturizer({**config, "gate_featurizers": ["e5"]}, "others")
    rows = {}
    for text in ("你们app登录提示设备异常", "建行app登录提示设备异常", "支付宝绑你们的卡失败"):
        message = Message(data={TEXT: text})
        message.add_features(Features(np.array([[0.5, -1.0]], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "e5"))
        ours.process([message])
        others.process([message])
        _, sentence = message.get_dense_features(TEXT, ["others"])
        rows[text] = sentence.features.reshape(-1).tolist()
    assert rows["你们app登录提示设备异常"] == [0.0, 0.0, 0.0]
    assert rows["建行app登录提示设备异常"] == [1.0, 0.5, -1.0]
    assert rows["支付宝绑你们的卡失败"] == [1.0, 0.5, -1.0]
    with pytest.raises(ValueError, match="gate_featurizers"):
        BankReferenceFeaturizer.validate_config({**config, "gate_featurizers": "e5"})


@pytest.mark.parametrize(
    "text,names_someone_else",
    [
        ("京东白条能用你们的卡还吗", True),
        ("帮我约上海南京东路支行", False),  # 京东 inside a street name
        ("南京东路那家店在京东上也卖", True),
        ("平安夜网点营业吗", False),
        ("平安的信用卡年费多少", True),
        ("光大的阳光理财到期了咋赎回", True),
        # a lender named as a company, whatever its name (session 17)
        ("新开的那家汇通小额贷款有限公司靠谱吗", True),
        ("找担保公司做抵押贷款要收多少服务费", True),
        ("你们银行贷款审批要多久", False),
    ],
)
def test_other_institutions_are_not_found_inside_longer_words(text, names_someone_else):
    from bot.nlu.bank_reference import WordList

    assert WordList.read("bot/resources/other_institutions.txt").found_in(text) is names_someone_else


def test_a_word_list_names_the_longer_words_a_word_does_not_count_inside(tmp_path):
    from bot.nlu.bank_reference import WordList, read_references

    path = tmp_path / "words.txt"
    path.write_text("# comment\n京东 | 南京东 北京东\n建行\n", encoding="utf-8")
    assert read_references(str(path)) == ["京东", "建行"]
    words = WordList.read(str(path))
    assert words.found_in("北京东站旁边的建行") and not words.found_in("北京东站")
    assert not WordList(None).found_in("建行")


@pytest.mark.parametrize(
    "text,names_someone_else",
    [
        ("兰州银行的定期利率多少", True),  # a city's bank the list of names lacks
        ("曹县农商行贷款好批吗", True),
        ("廣東農信手機銀行怎麼綁卡", True),
        ("我在江阴农村商业银行存的钱", True),
        ("在兰州银行卡丢了", False),  # a card lost in Lanzhou
        ("云澜银行兰州分行几点开门", False),  # our branch in a city
        ("兰州有你们银行吗", False),
        ("兰州的银行几点下班", False),
        ("手机银行怎么转账", False),
    ],
)
def test_a_bank_named_after_a_place_is_someone_else(text, names_someone_else):
    """China has some 4,000 local banks and rural credit institutions; the list names the ones customers name
    most, the place before 银行 / 农商行 / 农信 finds the rest."""
    from bot.nlu.bank_reference import WordList
    from bot.nlu.normaliser import normalise

    others = WordList.read("bot/resources/other_institutions.txt", "bot/resources/places.txt")
    assert others.found_in(normalise(text)) is names_someone_else


def _train_text_ngrams(tmp_path, texts):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.text_ngrams import TextCharNgramFeaturizer

    storage, resource = LocalModelStorage(tmp_path), Resource("text_chars")
    context = ExecutionContext(graph_schema=None, node_name="text_chars")
    config = TextCharNgramFeaturizer.get_default_config()
    trainer = TextCharNgramFeaturizer.create(config, storage, resource, context)
    trainer.train(TrainingData([Message(data={TEXT: t, "intent": "x"}) for t in texts]))
    return TextCharNgramFeaturizer.load(config, storage, resource, context)


def test_text_char_ngrams_span_word_boundaries_and_survive_reloading(tmp_path):
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    featurizer = _train_text_ngrams(tmp_path, ["手机银行闪退", "信用卡年费"])
    vocabulary = featurizer._vectorizer.vocabulary
    assert "行闪" in vocabulary and "银行闪" in vocabulary  # across 手机银行 | 闪退
    message, unknown, empty = (
        Message(data={TEXT: "手机银行闪退了"}),
        Message(data={TEXT: "🙂🙂"}),
        Message(data={TEXT: ""}),
    )
    featurizer.process([message, unknown, empty])
    _, sentence = message.get_sparse_features(TEXT)
    assert sentence.features.shape == (1, len(vocabulary)) and sentence.features.sum() > 10
    _, nothing = unknown.get_sparse_features(TEXT)
    assert nothing.features.shape == (1, len(vocabulary))
    assert nothing.features.sum() == nothing.features.toarray()[0, vocabulary[" "]]  # only the word-edge padding


def test_text_char_ngrams_trained_on_no_text_add_nothing_and_do_not_fail(tmp_path):
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    featurizer = _train_text_ngrams(tmp_path, [])
    message = Message(data={TEXT: "手机银行闪退了"})
    featurizer.process([message])
    assert message.get_sparse_features(TEXT) == (None, None)


def test_linear_classifier_gives_each_sparse_featurizer_unit_length():
    import numpy as np
    import scipy.sparse

    from bot.nlu.linear_classifier import LinearIntentClassifier

    counts = scipy.sparse.csr_matrix(np.array([[3.0, 4.0, 0.0, 1.0, 1.0, 1.0, 1.0]]))
    per_block = LinearIntentClassifier._unit_length(counts, [2, 5]).toarray().reshape(-1)
    assert np.allclose(per_block, [0.6, 0.8, 0.0, 0.5, 0.5, 0.5, 0.5])
    whole = LinearIntentClassifier._unit_length(counts, [3]).toarray().reshape(-1)  # blocks do not cover it
    assert np.isclose(np.linalg.norm(whole), 1.0)
    with pytest.raises(ValueError):
        LinearIntentClassifier({"sparse_norm": "sideways"}, None, None)


def test_linear_classifier_reads_only_the_featurizers_it_is_given():
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.linear_classifier import LinearIntentClassifier

    message = Message(data={TEXT: "信用卡年费"})
    for origin, width in (("word_chars", 5), ("words", 3), ("text_chars", 4)):
        counts = scipy.sparse.coo_matrix(np.ones((1, width)))
        message.add_features(Features(counts, FEATURE_TYPE_SENTENCE, TEXT, origin))
    message.add_features(Features(np.ones((1, 2)), FEATURE_TYPE_SENTENCE, TEXT, "e5"))
    chosen = LinearIntentClassifier({"featurizers": ["words", "text_chars", "e5"]}, None, None)
    dense, sparse = chosen._features(message)
    assert dense.shape == (2,) and sparse.shape == (1, 7) and chosen._blocks(message) == [3, 4]
    everything = LinearIntentClassifier({}, None, None)
    assert everything._features(message)[1].shape == (1, 12) and everything._blocks(message) == [5, 3, 4]


@pytest.mark.parametrize("sparse_norm", ["per_featurizer", "joint"])
@pytest.mark.parametrize("featurizers", [[], ["words", "text_chars", "e5"]])
def test_one_message_scores_as_the_training_matrix_would_score_it(sparse_norm, featurizers):
    """The serving path (``_scores``, plain numpy on the non-zero features) and the training
    path (``_matrix``, sparse-matrix algebra over all rows at once) give the same scores."""
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.linear_classifier import LinearIntentClassifier

    rng = np.random.default_rng(7)
    widths = {"word_chars": 9, "words": 11, "text_chars": 13}
    classifier = LinearIntentClassifier({"sparse_norm": sparse_norm, "featurizers": featurizers}, None, None)
    messages = []
    for trial in range(40):
        message = Message(data={TEXT: "信用卡年费多少"})
        for origin, width in widths.items():
            counts = rng.integers(0, 4, size=(1, width)) * (rng.random((1, width)) < 0.4)
            message.add_features(Features(scipy.sparse.coo_matrix(counts), FEATURE_TYPE_SENTENCE, TEXT, origin))
        message.add_features(Features(rng.normal(size=(1, 6)), FEATURE_TYPE_SENTENCE, TEXT, "e5"))
        sparse_width = sum(w for o, w in widths.items() if not featurizers or o in featurizers)
        idf = 1.0 + rng.random(sparse_width) * 3
        coef = rng.normal(size=(5, 6 + sparse_width))
        classifier._model = {"coef": coef, "intercept": rng.normal(size=5), "idf": idf}
        expected = np.asarray(classifier._matrix([message], idf) @ coef.T).reshape(-1) + classifier._model["intercept"]
        assert np.allclose(classifier._scores(message), expected), trial
        messages.append(message)
    batch = classifier._matrix(messages, idf).toarray()
    assert np.allclose(batch, np.vstack([classifier._matrix([m], idf).toarray() for m in messages]))
    expected_rows = [classifier._scores(m) for m in messages]
    assert np.allclose(batch @ coef.T + classifier._model["intercept"], np.vstack(expected_rows))


@pytest.mark.parametrize(
    "text,value",
    [
        ("20w", 200000),
        ("2w", 20000),
        ("8k", 8000),
        ("1.5W", 15000),
        ("200,000", 200000),
        ("两三万", 20000),
        ("2-3万", 20000),
        ("十来万", 100000),
        ("三十多万", 300000),
        ("七八千", 7000),
    ],
)
def test_amounts_written_every_usual_way(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize(
    "text,months", [("两三年", 24), ("一两年", 12), ("2-3年", 24), ("一年多", 12), ("三四个月", 3)]
)
def test_a_range_of_terms_is_read_as_its_lower_bound(text, months):
    assert parse_term_months(text) == months


@pytest.mark.parametrize(
    "text,found",
    [
        ("我有200,000想存定期", "200,000"),
        ("存20w三年", "20w"),
        ("每月工资8k左右", "8k"),
        ("手里有十来万", "十来万"),
        ("大概两三万吧", "两三万"),
    ],
)
def test_amount_patterns_find_every_usual_form(text, found):
    matches = [m.group(0) for p in _patterns("amount") for m in p.finditer(text)]
    assert found in matches and "200" not in matches and "000" not in matches


@pytest.mark.parametrize("text,found", [("存两三年", "两三年"), ("贷款2-3年", "2-3年"), ("放一年多", "一年")])
def test_term_patterns_find_ranges(text, found):
    matches = [m.group(0) for p in _patterns("term") for m in p.finditer(text)]
    assert found in matches


def test_fast_fingerprints_identify_the_features_not_their_storage():
    """`make train` hashes sparse features instead of printing them: equal matrices (whatever their
    sparse format or entry order) get one fingerprint, any changed value or shape another."""
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    from bot.train import fast_fingerprints

    fast_fingerprints()
    fast_fingerprints()  # idempotent
    rows, cols, values = np.array([0, 1, 1]), np.array([2, 0, 3]), np.array([1.0, 0.5, 2.0])
    coo = scipy.sparse.coo_matrix((values, (rows, cols)), shape=(2, 5))
    shuffled = scipy.sparse.coo_matrix((values[::-1], (rows[::-1], cols[::-1])), shape=(2, 5))

    def fingerprint(matrix, attribute="text"):
        return Features(matrix, "sequence", attribute, "words").fingerprint()

    assert fingerprint(coo) == fingerprint(coo.tocsr()) == fingerprint(shuffled)
    changed = coo.copy()
    changed.data = changed.data.copy()
    changed.data[1] = 0.25
    assert fingerprint(changed) != fingerprint(coo)
    assert fingerprint(scipy.sparse.coo_matrix((values, (rows, cols)), shape=(2, 6))) != fingerprint(coo)
    assert fingerprint(coo, attribute="intent") != fingerprint(coo)
    dense = np.ones((1, 4), dtype=np.float32)
    assert fingerprint(dense) == fingerprint(dense.copy()) != fingerprint(dense * 2)


def test_a_training_stage_is_redone_when_a_word_list_it_reads_changes(tmp_path):
    """Rasa reuses a stage's cached output while the component's class, config and inputs are the same;
    the word lists a component reads (and the project's helpers) are part of that fingerprint, so
    editing the list of other institutions retrains instead of keeping features from the old list."""
    from rasa.engine.training.fingerprinting import calculate_fingerprint_key

    from bot.nlu.bank_reference import BankReferenceFeaturizer
    from bot.nlu.intent_rules import IntentRules
    from bot.nlu.jieba_tokenizer import BankJiebaTokenizer

    words = tmp_path / "others.txt"
    words.write_text("工行\n", encoding="utf-8")
    config = {**BankReferenceFeaturizer.get_default_config(), "path": str(words)}

    def key(component, config):
        return calculate_fingerprint_key(component, config, {"messages": "same input"})

    before = key(BankReferenceFeaturizer, config)
    assert key(BankReferenceFeaturizer, config) == before
    words.write_text("工行\n光大\n", encoding="utf-8")
    assert key(BankReferenceFeaturizer, config) != before

    dictionary = tmp_path / "jieba"
    dictionary.mkdir()
    (dictionary / "userdict.txt").write_text("云澜 2000 nz\n", encoding="utf-8")
    config = {"dictionary_path": str(dictionary)}
    before = key(BankJiebaTokenizer, config)
    (dictionary / "userdict.txt").write_text("云澜 2000 nz\n澜安 2000 nz\n", encoding="utf-8")
    assert key(BankJiebaTokenizer, config) != before

    rules = {"others_path": str(words)}
    before = key(IntentRules, rules)
    words.write_text("工行\n", encoding="utf-8")
    assert key(IntentRules, rules) != before


def test_entity_annotations_are_still_validated_when_the_schema_is_checked_once(monkeypatch):
    """`make train` builds one validator per schema; every annotation is still checked, and a
    wrong one fails with Rasa's own error."""
    import jsonschema
    from rasa.shared.exceptions import SchemaValidationError
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    from bot.train import validated_schemas_once

    validated_schemas_once()
    validated_schemas_once()  # idempotent
    checks = []
    for cls in {jsonschema.validators.validator_for({}), jsonschema.Draft4Validator, jsonschema.Draft7Validator}:
        monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, schema: checks.append(1)))
    good = """version: "3.1"
nlu:
- intent: ask_fees
  examples: |
    - [信用卡]{"entity": "product_type", "value": "credit_card"}年费多少
    - [定期]{"entity": "product_type", "value": "time_deposit", "role": "from"}怎么收费
    - [网银]{"entity": "product_type", "value": "e_banking"}要钱吗
"""
    data = RasaYAMLReader().reads(good)
    assert [e["value"] for m in data.training_examples for e in m.get("entities", [])] == [
        "credit_card",
        "time_deposit",
        "e_banking",
    ]
    assert len(checks) <= 1  # the entity schema checked once at most, not once per annotation
    bad = good.replace('"value": "e_banking"}', '"value": "e_banking", "group": ["x"]}')
    with pytest.raises(SchemaValidationError, match="Failed to validate data"):
        RasaYAMLReader().reads(bad)


@pytest.mark.parametrize("segmenter", ["char", "jieba"])
def test_spacy_chinese_tokenizer_gives_rasa_tokens_with_offsets(segmenter):
    """spaCy's Chinese tokenizer, measured against jieba in `make eval` (docs/nlu-evaluation.md)."""
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.spacy_tokenizer import SpacyChineseTokenizer

    config = {**SpacyChineseTokenizer.get_default_config(), "segmenter": segmenter}
    tokenizer = SpacyChineseTokenizer(config)
    text = "云澜个人大额存单 三年期利率多少"
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    assert tokens and all(text[t.start : t.end] == t.text for t in tokens)
    assert "".join(t.text for t in tokens) == text.replace(" ", "")
    if segmenter == "jieba":
        assert "云澜个人大额存单" in [t.text for t in tokens]  # the bank's dictionary is loaded


def test_spacy_pkuseg_without_its_model_says_how_to_get_it(tmp_path):
    from bot.nlu.spacy_tokenizer import build_nlp

    with pytest.raises(ValueError, match="pkuseg_model.sh"):
        build_nlp("pkuseg", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="segmenter"):
        build_nlp("thulac")


def test_training_progress_names_each_stage_and_the_time_since_the_start():
    """`make train` prints one line per stage of the training graph (bot/train.py)."""
    import io

    from bot.train import Progress, _stage

    assert _stage("train_JiebaTokenizer0") == "train JiebaTokenizer"
    assert _stage("run_bot.nlu.e5_featurizer.E5SentenceFeaturizer4") == (
        "run E5SentenceFeaturizer over the training data"
    )
    assert _stage("domain_provider") == "domain_provider"
    out = io.StringIO()
    progress = Progress(stream=out)
    progress.started -= 75.4
    progress.line("train LinearIntentClassifier: 48.7 s")
    assert out.getvalue() == "  [01:15] train LinearIntentClassifier: 48.7 s\n"


def test_jieba_cuts_the_same_however_often_the_dictionary_is_loaded(tmp_path):
    """Rasa's JiebaTokenizer re-adds the user dictionary to jieba's global tokenizer on every model
    load, which shifts every word's probability (二类户能存多少钱: 多少/钱 became 多少钱)."""
    import shutil

    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.jieba_tokenizer import BankJiebaTokenizer

    dictionary = tmp_path / "jieba"
    shutil.copytree("bot/resources/jieba", dictionary)
    config = {**BankJiebaTokenizer.get_default_config(), "dictionary_path": str(dictionary)}
    storage = LocalModelStorage(tmp_path / "storage")

    def cuts(text: str) -> list[str]:
        tokenizer = BankJiebaTokenizer.create(config, storage, Resource("tokenizer"), None)
        return [t.text for t in tokenizer.tokenize(Message(data={"text": text}), "text")]

    texts = ["二类户能存多少钱", "拿工行的储蓄卡给你们信用卡还钱行不行", "大额存单多少钱起存"]
    first = [cuts(t) for t in texts]
    for _ in range(3):
        assert [cuts(t) for t in texts] == first
    assert "二类户" in first[0]  # the bank's dictionary is in use
