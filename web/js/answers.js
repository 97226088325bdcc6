// Questions and answers: the city's answers searched in the resident's words, one answer whole
// (#/answers/<id>), the report a problem-like search leads to, and "my question is not
// answered", which sends the question to the City as an information request.

import { api } from './api.js';
import { $, el, sentence } from './dom.js';
import { language, plural, t } from './i18n.js';
import { chooseService, serviceName } from './services.js';

const QUESTION_MAX = 2000;

const answersState = {
  token: 0,
  typed: '',
  found: null,
  shown: null,
  sending: false,
};

function answersHref(id) {
  return `#/answers/${encodeURIComponent(id)}`;
}

function langParam() {
  return `lang=${encodeURIComponent(language())}`;
}

/** Searches the answers for the typed words (every answer when there are none). */
export async function searchAnswers(typed) {
  const token = ++answersState.token;
  answersState.typed = typed;
  const status = $('answers-status');
  status.textContent = t('answers.searching');
  const query = typed.trim() ? `q=${encodeURIComponent(typed.trim())}&` : '';
  let found;
  try {
    ({ body: found } = await api(`/answers?${query}${langParam()}`));
  } catch (err) {
    if (token !== answersState.token) return;
    status.textContent = err.message;
    return;
  }
  if (token !== answersState.token) return;
  answersState.found = found;
  renderFound();
}

function renderFound() {
  const found = answersState.found;
  if (!found) return;
  const searched = answersState.typed.trim() !== '';
  const list = $('answers-list');
  list.replaceChildren(...found.answers.map((a) => el('li', { className: 'answer-item' }, [
    el('a', { href: answersHref(a.id), className: 'answer-link', text: a.question }),
    el('p', { className: 'help', text: a.answer }),
  ])));
  const status = $('answers-status');
  if (!searched) status.textContent = t('answers.all');
  else if (found.answers.length === 0) status.textContent = t('answers.none');
  else status.textContent = plural('answers.found', found.answers.length);

  const report = $('answers-report');
  report.hidden = found.services.length === 0;
  $('answers-report-list').replaceChildren(...found.services.map((s) => el('li', {}, [
    reportButton(s.service_code),
  ])));
  if (searched && !$('ask-question').value.trim()) $('ask-question').value = answersState.typed.trim();
}

/** A button that opens the report form with this service chosen. */
function reportButton(code) {
  const button = el('button', { type: 'button', className: 'btn btn-secondary', text: t('answers.report_it', { service: serviceName(code) }) });
  button.addEventListener('click', () => {
    location.hash = '#/report';
    chooseService(code);
  });
  return button;
}

/** Shows one answer whole, or the list again when `id` is null. */
export async function showAnswer(id, { focus = false } = {}) {
  const article = $('answer');
  if (!id) {
    answersState.shown = null;
    article.hidden = true;
    $('answers-found').hidden = false;
    if (!answersState.found) searchAnswers($('answers-input').value);
    return;
  }
  const token = ++answersState.token;
  let answer;
  try {
    ({ body: answer } = await api(`/answers/${encodeURIComponent(id)}?${langParam()}`));
  } catch (err) {
    if (token !== answersState.token) return;
    $('answers-status').textContent = err.status === 404 ? t('answers.not_found') : err.message;
    article.hidden = true;
    $('answers-found').hidden = false;
    return;
  }
  if (token !== answersState.token) return;
  answersState.shown = answer;
  renderAnswer(answer);
  $('answers-status').textContent = '';
  $('answers-found').hidden = true;
  article.hidden = false;
  if (focus) $('answer-question').focus();
}

function renderAnswer(answer) {
  $('answer-question').textContent = answer.question;
  $('answer-question').lang = answer.language;
  $('answer-text').textContent = answer.answer;
  const details = [
    ['where', 'answers.where'],
    ['bring', 'answers.bring'],
    ['cost', 'answers.cost'],
    ['hours', 'answers.hours'],
  ].filter(([field]) => answer[field]);
  $('answer-details').replaceChildren(...details.map(([field, key]) => el('div', {}, [
    el('dt', { text: t(key) }),
    el('dd', { text: answer[field] }),
  ])));
  $('answer-details').hidden = details.length === 0;
  $('answer-links-wrap').hidden = answer.links.length === 0;
  $('answer-links').replaceChildren(...answer.links.map((link) => el('li', {}, [
    el('a', { href: link.url, rel: 'noopener noreferrer', text: link.title }),
  ])));
  const service = $('answer-service');
  service.hidden = !answer.service;
  service.replaceChildren(...(answer.service ? [reportButton(answer.service.service_code)] : []));
}

/** After a change of language: the same search and answer, in the new language. */
export function renderAnswersAgain() {
  if ($('answers-view').hidden) {
    answersState.found = null;
    return;
  }
  if (answersState.shown) showAnswer(answersState.shown.id);
  else searchAnswers(answersState.typed);
}

/* My question is not answered --------------------------------------- */

function askError(field, message) {
  const wrapper = $(`ask-field-${field}`);
  wrapper.classList.add('has-error');
  wrapper.querySelector('.field-error').textContent = message;
  wrapper.querySelector('input, textarea').setAttribute('aria-invalid', 'true');
}

function clearAskErrors() {
  for (const field of ['question', 'email']) {
    const wrapper = $(`ask-field-${field}`);
    wrapper.classList.remove('has-error');
    wrapper.querySelector('.field-error').textContent = '';
    wrapper.querySelector('input, textarea').removeAttribute('aria-invalid');
  }
  $('ask-summary').hidden = true;
  $('ask-summary').replaceChildren();
}

function showAskErrors(errors) {
  const summary = $('ask-summary');
  const items = errors.map(({ field, message }) => {
    if (field) askError(field, message);
    const target = field ? $(`ask-${field}`) : null;
    if (!target) return el('li', { text: message });
    const link = el('a', { href: `#${target.id}`, text: message });
    link.addEventListener('click', (event) => {
      event.preventDefault();
      target.focus();
    });
    return el('li', {}, [link]);
  });
  summary.replaceChildren(el('p', { className: 'summary-heading', text: t('error.check') }), el('ul', {}, items));
  summary.hidden = false;
  const first = errors.find((e) => e.field);
  if (first) $(`ask-${first.field}`).focus();
}

async function onAsk(event) {
  event.preventDefault();
  if (answersState.sending) return;
  clearAskErrors();
  const question = $('ask-question').value.trim();
  const email = $('ask-email').value.trim();
  const errors = [];
  if (!question) errors.push({ field: 'question', message: t('ask.error_question') });
  else if (question.length > QUESTION_MAX) errors.push({ field: 'question', message: t('ask.error_long', { max: QUESTION_MAX }) });
  if (!email) errors.push({ field: 'email', message: t('ask.error_email') });
  else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.push({ field: 'email', message: t('ask.error_email_form') });
  if (errors.length) {
    showAskErrors(errors);
    return;
  }
  answersState.sending = true;
  const button = $('ask-send');
  button.disabled = true;
  $('ask-status').textContent = t('ask.sending');
  try {
    const { body } = await api('/questions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ question, email, language: language() === 'es' ? 'es' : 'en' }),
    });
    $('ask-form').hidden = true;
    $('ask-number').textContent = body.tracking_number;
    $('ask-done').hidden = false;
    $('ask-done-heading').focus();
  } catch (err) {
    const field = ['question', 'email'].includes(err.field) ? err.field : null;
    showAskErrors([{ field, message: sentence(err.message) }]);
  } finally {
    answersState.sending = false;
    button.disabled = false;
    $('ask-status').textContent = '';
  }
}

function askAnother() {
  $('ask-form').reset();
  $('ask-form').hidden = false;
  $('ask-done').hidden = true;
  $('ask-question').focus();
}

export function initAnswers() {
  $('answers-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (location.hash !== '#/answers') location.hash = '#/answers';
    answersState.shown = null;
    $('answer').hidden = true;
    $('answers-found').hidden = false;
    searchAnswers($('answers-input').value);
  });
  $('ask-form').addEventListener('submit', onAsk);
  $('ask-another').addEventListener('click', askAnother);
}
