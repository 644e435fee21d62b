// The console's pages, one per location hash: #/overview, #/accounts, #/accounts/<id>,
// #/price-rules, #/admin-tokens.
import { errorBox } from './ui.js';
import { overview } from './overview.js';
import { accounts } from './accounts.js';
import { account } from './account.js';
import { priceRules } from './prices.js';
import { adminTokens } from './tokens.js';

const main = document.getElementById('main');
let leave = null;

async function route() {
  if (leave) {
    leave();
    leave = null;
  }
  const hash = window.location.hash || '#/overview';
  const parts = hash.slice(2).split('/');
  const page = parts[0];
  document.querySelectorAll('header nav a').forEach((a) => {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  main.replaceChildren();
  try {
    if (page === 'accounts' && parts[1]) leave = await account(main, decodeURIComponent(parts[1]));
    else if (page === 'accounts') leave = await accounts(main);
    else if (page === 'price-rules') leave = await priceRules(main);
    else if (page === 'admin-tokens') leave = await adminTokens(main);
    else leave = await overview(main);
  } catch (e) {
    main.append(errorBox(e));
  }
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
route();
