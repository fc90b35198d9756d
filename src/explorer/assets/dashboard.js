// Draws the KPI dashboard's charts from the JSON block the server rendered into the page.
// Plain browser script (no build step): chart.js is loaded before it as a UMD bundle and sets window.Chart.
(function () {
  "use strict";

  const palette = {
    revenue: "#2f6fb5",
    orders: "#e07b39",
    active: "#2f6fb5",
    ordering: "#3b9c6d",
    fresh: "#e07b39",
    passive: "#9b59b6",
    granted: "#3b9c6d",
    denied: "#c8463d",
    notSet: "#b8c2cc",
  };

  function euros(value) {
    return value.toLocaleString("en-US", { maximumFractionDigits: 0 }) + " €";
  }

  function percent(value) {
    return Math.round(value * 100) + " %";
  }

  function draw() {
    const holder = document.getElementById("dashboard-data");
    if (!holder || typeof window.Chart === "undefined") {
      document.documentElement.dataset.chartsReady = "error";
      return;
    }
    const data = JSON.parse(holder.textContent || "{}");
    const Chart = window.Chart;
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    let drawn = 0;

    const revenue = document.getElementById("chart-revenue");
    if (revenue) {
      new Chart(revenue, {
        data: {
          labels: data.months,
          datasets: [
            { type: "bar", label: "Revenue (€)", data: data.revenueEur, backgroundColor: palette.revenue, yAxisID: "eur" },
            { type: "line", label: "Orders", data: data.orders, borderColor: palette.orders, backgroundColor: palette.orders, yAxisID: "orders", pointRadius: 2 },
          ],
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: {
            eur: { position: "left", beginAtZero: true, ticks: { callback: euros } },
            orders: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { precision: 0 } },
          },
          plugins: {
            tooltip: {
              callbacks: {
                label: (item) => (item.dataset.yAxisID === "eur" ? "Revenue: " + euros(item.parsed.y) : "Orders: " + item.parsed.y),
              },
            },
          },
        },
      });
      drawn++;
    }

    const customers = document.getElementById("chart-customers");
    if (customers) {
      const line = (label, values, color) => ({ type: "line", label, data: values, borderColor: color, backgroundColor: color, pointRadius: 2 });
      new Chart(customers, {
        type: "line",
        data: {
          labels: data.months,
          datasets: [
            line("Active, 12 months", data.activeCustomers12m, palette.active),
            line("Ordering in the month", data.customersOrdering, palette.ordering),
            line("New", data.newCustomers, palette.fresh),
            line("Passive", data.passiveCustomers, palette.passive),
          ],
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
      drawn++;
    }

    const permissions = document.getElementById("chart-permissions");
    if (permissions) {
      const bar = (label, values, color) => ({ label, data: values, backgroundColor: color });
      new Chart(permissions, {
        type: "bar",
        data: {
          labels: data.permissions.purposes,
          datasets: [
            bar("Granted", data.permissions.granted, palette.granted),
            bar("Denied", data.permissions.denied, palette.denied),
            bar("Not set", data.permissions.notSet, palette.notSet),
          ],
        },
        options: {
          indexAxis: "y",
          scales: {
            x: { stacked: true, min: 0, max: 1, ticks: { callback: percent } },
            y: { stacked: true },
          },
          plugins: {
            tooltip: { callbacks: { label: (item) => item.dataset.label + ": " + percent(item.parsed.x) } },
          },
        },
      });
      drawn++;
    }

    const campaigns = document.getElementById("chart-campaigns");
    if (campaigns && data.campaigns) {
      new Chart(campaigns, {
        type: "bar",
        data: {
          labels: data.campaigns.audiences,
          datasets: [
            { label: "Treated", data: data.campaigns.treated, backgroundColor: palette.revenue },
            { label: "Holdout", data: data.campaigns.holdout, backgroundColor: palette.notSet },
          ],
        },
        options: {
          scales: { y: { beginAtZero: true, ticks: { callback: percent } } },
          plugins: { tooltip: { callbacks: { label: (item) => item.dataset.label + ": " + (item.parsed.y * 100).toFixed(1) + " %" } } },
        },
      });
      drawn++;
    }

    // Tests and screenshots wait for this mark instead of guessing how long drawing takes.
    document.documentElement.dataset.chartsReady = String(drawn);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
