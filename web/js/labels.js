// The words for a request's status, resolution and timeline entries, in the page's language.

import { humanize } from './dom.js';
import { t } from './i18n.js';

const STATUSES = ['submitted', 'open', 'in_progress', 'closed', 'archived'];
const RESOLUTIONS = ['fixed', 'duplicate', 'referred', 'no_action', 'cancelled'];
const TIMELINE = ['submitted', 'routed', 'referred', 'duplicate', 'status_changed', 'note', 'media', 'reopened', 'comment', 'supported'];

export function statusLabel(status) {
  return STATUSES.includes(status) ? t(`status.${status}`) : humanize(status || t('status.unknown'));
}

export function resolutionLabel(resolution) {
  return RESOLUTIONS.includes(resolution) ? t(`resolution.${resolution}`) : humanize(resolution);
}

export function timelineLabel(kind) {
  return TIMELINE.includes(kind) ? t(`timeline.${kind}`) : humanize(kind || 'update');
}
