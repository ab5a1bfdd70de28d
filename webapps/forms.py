"""Forms of the Web tab: the new-app wizard and one small form per editable setting."""

from django import forms
from django.core.exceptions import ValidationError

from webapps import agent
from webapps.certificates import MAX_PEM_BYTES
from webapps.models import WebApp
from webapps.validation import (
    clean_auth_username,
    clean_domain,
    clean_home_path,
    clean_url_prefix,
    clean_workers,
)


class WizardForm(forms.Form):
    framework = forms.ChoiceField(
        choices=WebApp.Framework.choices, widget=forms.RadioSelect, initial="flask"
    )
    python_version = forms.ChoiceField(label="Python version")
    domain = forms.CharField(
        required=False,
        max_length=253,
        help_text="Leave empty for your own address. A custom domain needs a plan that has them, "
        "and is served once a DNS TXT record shows it is yours.",
    )

    def __init__(self, *args, user, pythons: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["python_version"].choices = [(v, f"Python {v}") for v in reversed(pythons)]
        if not pythons:
            self.fields["python_version"].help_text = "The web server is unreachable right now."

    def clean_domain(self):
        value = self.cleaned_data["domain"]
        return clean_domain(self.user, value) if value.strip() else ""


class SettingForm(forms.Form):
    """One setting of an existing app; `field` picks which, `value` carries it."""

    LABELS = {
        "source_dir": "Source code",
        "working_dir": "Working directory",
        "virtualenv": "Virtualenv",
        "python_version": "Python version",
        "workers": "Workers",
        "force_https": "Force HTTPS",
        "domain": "Domain",
    }

    def __init__(self, *args, webapp: WebApp, field: str, pythons: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.webapp, self.setting = webapp, field
        self.fields["value"] = self._field(field, pythons)
        self.fields["value"].label = self.LABELS[field]
        if not self.is_bound:
            self.initial["value"] = getattr(webapp, field)

    def _field(self, name: str, pythons) -> forms.Field:
        if name == "workers":
            return forms.IntegerField(min_value=1)
        if name == "force_https":
            return forms.BooleanField(required=False)
        if name == "python_version":
            return forms.ChoiceField(choices=[(v, f"Python {v}") for v in pythons])
        required = name in ("working_dir", "domain")
        return forms.CharField(required=required, max_length=1024)

    def clean_value(self):
        value = self.cleaned_data["value"]
        user = self.webapp.user
        match self.setting:
            case "workers":
                return clean_workers(user, value)
            case "domain":
                return clean_domain(user, value, current=self.webapp)
            case "working_dir" | "source_dir":
                if not value.strip():
                    return ""
                path = clean_home_path(user, value, what=self.LABELS[self.setting].lower())
                agent.check_directory(user, path, what=self.LABELS[self.setting].lower())
                return path
            case "virtualenv":
                if not value.strip():
                    return ""
                path = clean_home_path(user, value, what="virtualenv")
                agent.check_virtualenv(user, path)
                return path
        return value


class PasswordForm(forms.Form):
    username = forms.CharField(max_length=64)
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), max_length=200
    )

    def clean_username(self):
        return clean_auth_username(self.cleaned_data["username"])

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not password:
            raise ValidationError("Enter a password: an empty one would protect nothing.")
        return password


class StaticMappingForm(forms.Form):
    url = forms.CharField(label="URL", max_length=256, initial="/static/")
    directory = forms.CharField(max_length=1024)
    dotfiles = forms.BooleanField(
        label="Also serve files and folders whose names start with a dot", required=False
    )

    def __init__(self, *args, webapp: WebApp, **kwargs):
        super().__init__(*args, **kwargs)
        self.webapp = webapp

    def clean_url(self):
        url = clean_url_prefix(self.cleaned_data["url"])
        if self.webapp.static_mappings.filter(url=url).exists():
            raise ValidationError(f"{url} is already mapped.")
        return url

    def clean_directory(self):
        user = self.webapp.user
        path = clean_home_path(user, self.cleaned_data["directory"], what="directory")
        agent.check_directory(user, path, what="directory")
        return path


class CertificateUploadForm(forms.Form):
    """A chain and key, pasted or as files (a file wins); webapps/certificates.py checks them."""

    certificate = forms.CharField(
        label="Certificate chain (PEM, yours first)", required=False, widget=forms.Textarea
    )
    key = forms.CharField(label="Private key (PEM)", required=False, widget=forms.Textarea)
    certificate_file = forms.FileField(label="or the chain's file", required=False)
    key_file = forms.FileField(label="or the key's file", required=False)

    def _pick(self, name: str, what: str) -> bytes:
        upload = self.cleaned_data.get(f"{name}_file")
        if upload is not None:
            if upload.size > MAX_PEM_BYTES:
                raise ValidationError(
                    f"The {what} file is {upload.size // 1024} KiB: more than the "
                    f"{MAX_PEM_BYTES // 1024} KiB a PEM file of it could need."
                )
            return upload.read()
        text = self.cleaned_data.get(name) or ""
        if not text.strip():
            raise ValidationError(f"Paste the {what} or choose its file.")
        return text.encode("utf-8", "replace")

    def clean(self):
        cleaned = super().clean()
        for name, what in (("certificate", "certificate chain"), ("key", "private key")):
            try:
                cleaned[f"{name}_bytes"] = self._pick(name, what)
            except ValidationError as exc:
                self.add_error(name, exc)
        return cleaned


class HstsForm(forms.Form):
    hsts_max_age = forms.IntegerField(
        label="HSTS max-age (seconds; 0 sends no header)", min_value=0, max_value=63072000
    )
