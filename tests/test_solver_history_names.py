"""cs231n's names for the Solver's history: ``loss_history`` (per step), ``train_acc_history`` and
``val_acc_history`` (per epoch), read-only views of what the Solver records anyway."""
import pytest

from glassnet.data import DataLoader, digits
from glassnet.models import classic_cnn
from glassnet.optim import SGD
from glassnet.train import Solver


@pytest.fixture(scope="module")
def fitted():
    splits = digits(seed=0, limit=300)
    model = classic_cnn((1, 8, 8), 10, channels=(4, 8), hidden=16, dropout=0.0, seed=0)
    solver = Solver(model, DataLoader(splits.train, 32, seed=1), SGD(model.parameters(), 0.05, momentum=0.9),
                    val_set=splits.val, epochs=3, progress=False)
    solver.fit()
    return solver


def test_loss_history_has_the_loss_of_every_step_in_order(fitted):
    assert len(fitted.loss_history) == 3 * len(fitted.loader)
    assert list(fitted.loss_history) == fitted.step_losses
    assert all(isinstance(v, float) and v > 0 for v in fitted.loss_history)


def test_train_and_val_acc_history_have_one_accuracy_per_epoch_from_the_history(fitted):
    assert list(fitted.train_acc_history) == fitted.history["train_acc"]
    assert list(fitted.val_acc_history) == fitted.history["val_acc"]
    assert len(fitted.train_acc_history) == len(fitted.val_acc_history) == 3
    assert all(0.0 <= a <= 1.0 for a in fitted.train_acc_history + fitted.val_acc_history)
    assert max(fitted.val_acc_history) > 0.3  # 10 classes: chance is 0.1


@pytest.mark.parametrize("name", ["loss_history", "train_acc_history", "val_acc_history"])
def test_history_names_are_read_only_tuples(fitted, name):
    with pytest.raises(AttributeError):
        setattr(fitted, name, [])
    assert isinstance(getattr(fitted, name), tuple)  # cannot be edited to rewrite the solver's history
