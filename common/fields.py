"""Model fields for personal data stored encrypted (see ``common.pii``).

``EncryptedTextField`` holds the ciphertext; the model attribute is the plain text, so services,
forms and serializers read and assign ``member.id_number`` as before. ``KeyedHashField`` beside
it is filled from that attribute whenever the row is saved (``save()``, ``bulk_create``), and is
what every lookup uses: ``Member.objects.filter(id_number_hash=blind_index(text, ID_NUMBER))``,
or with the plain text, which the field hashes for the lookup. Filtering on the encrypted field
itself is refused: a ciphertext comparison would silently find nothing after a key rotation.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import FieldError
from django.db import models

from common import pii


class EncryptedTextField(models.Field):
    description = "Text stored encrypted (AES-SIV), read back as text"
    empty_strings_allowed = True

    def __init__(self, *args, purpose: str, max_length: int | None = None, **kwargs) -> None:
        self.purpose = purpose
        self.text_max_length = max_length
        kwargs.setdefault("default", "")
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        if self.text_max_length is not None:
            kwargs["max_length"] = self.text_max_length
        if kwargs.get("default") == "":
            del kwargs["default"]
        kwargs.pop("blank", None)
        if not self.blank:
            kwargs["blank"] = False
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        return "BinaryField"

    def from_db_value(self, value, expression, connection):
        return pii.decrypt(value, self.purpose) if value is not None else ""

    def to_python(self, value):
        if value is None:
            return ""
        if isinstance(value, bytes | memoryview):
            return pii.decrypt(value, self.purpose)
        return str(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if isinstance(value, bytes | memoryview):
            return bytes(value)  # already ciphertext (a copy from another row)
        return pii.encrypt(value or "", self.purpose)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        return connection.Database.Binary(value) if value is not None else None

    def value_to_string(self, obj) -> str:
        return self.value_from_object(obj) or ""

    def get_lookup(self, lookup_name):
        # ``df`` (IS DISTINCT FROM) is what the audit triggers compare old and new rows with;
        # ciphertexts are deterministic, so it holds. Value lookups would not survive rotation.
        if lookup_name not in ("isnull", "df"):
            raise FieldError(
                f"加密字段 {self.name} 不能按 {lookup_name} 查询，请用其键控哈希字段 "
                f"(filter on the keyed hash beside {self.name})"
            )
        return super().get_lookup(lookup_name)

    def formfield(self, **kwargs):
        defaults = {"form_class": forms.CharField, "max_length": self.text_max_length}
        defaults.update(kwargs)
        return models.Field.formfield(self, **defaults)


class KeyedHashField(models.BinaryField):
    """The keyed hash of ``source``'s plain text, refreshed on every save of the row."""

    def __init__(self, *args, source: str, purpose: str, **kwargs) -> None:
        self.source = source
        self.purpose = purpose
        kwargs["editable"] = False
        kwargs.setdefault("default", b"")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["purpose"] = self.purpose
        kwargs.pop("editable", None)
        if kwargs.get("default") == b"":
            del kwargs["default"]
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = pii.blind_index(getattr(model_instance, self.source), self.purpose)
        setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value):
        # Lookups may pass the plain text: hash it here rather than at every call site.
        if isinstance(value, str):
            return pii.blind_index(value, self.purpose)
        return super().get_prep_value(value)

    def from_db_value(self, value, expression, connection):
        return bytes(value) if value is not None else None


class KeyedHashModel(models.Model):
    """A model with keyed hashes: ``save(update_fields=[...])`` naming a hashed value refreshes
    its hash too, so no service can leave a hash describing an old value."""

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is not None:
            update_fields = list(update_fields)
            for field in self._meta.concrete_fields:
                if (
                    isinstance(field, KeyedHashField)
                    and field.source in update_fields
                    and field.name not in update_fields
                ):
                    update_fields.append(field.name)
        super().save(*args, update_fields=update_fields, **kwargs)
