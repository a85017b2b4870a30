// A form marked data-auto-submit is sent as soon as the page loads (LTI deep linking's
// return to the LMS); without JavaScript its button does the same.
document.querySelectorAll("form[data-auto-submit]").forEach((form) => form.submit());
