import { launchBrowser } from './test/helpers/browser';
(async () => {
  const b = await launchBrowser();
  const p = await b.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await p.goto('file:///tmp/rv-ws/REVIEW/pages/index.html');
  await p.waitForTimeout(500);
  await p.keyboard.press('1'); await p.keyboard.press('2'); await p.keyboard.press('3'); await p.keyboard.press('u'); await p.keyboard.press('4');
  await p.waitForTimeout(300);
  await p.screenshot({ path: '/tmp/rv-shot1.png' });
  console.log(errors);
  await b.close();
})();
