// The staff pages the server renders (网点预约, 投诉工单) show what was stored when they loaded. A page
// left open at a branch counter reloads itself every `data-refresh-seconds` (the desk's
// DESK_PAGE_REFRESH_SECONDS, 60 by default) to show new bookings and tickets, unless a member of
// staff is busy with one of its forms (a field focused or changed): nothing typed is lost. The notice
// of the last action (?result=…) is not shown again after a reload.
(function () {
  'use strict';
  const seconds = Number(document.body.dataset.refreshSeconds || 0);
  if (!(seconds > 0)) return;
  let touched = false;
  document.addEventListener('input', () => { touched = true; });
  document.addEventListener('change', () => { touched = true; });
  const busy = () => {
    const field = document.activeElement;
    return touched || Boolean(field && field !== document.body && field.closest('form'));
  };
  window.setInterval(() => {
    if (busy() || document.visibilityState !== 'visible') return;
    const url = new URL(window.location.href);
    url.searchParams.delete('result');
    url.searchParams.delete('updated');
    window.location.replace(url.toString());
  }, seconds * 1000);
})();
